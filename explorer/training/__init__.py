"""Training rerankers: data from labels, from the corpus itself (pseudo-queries) or from a teacher; the run;
and its evaluation on held-out queries."""
