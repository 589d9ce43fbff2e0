"""Judging results on your own data: judgements kept in SQLite, blind pools to judge, agreement between raters,
coverage of the labels (judged@k), and the labels merged with a data set's qrels."""
