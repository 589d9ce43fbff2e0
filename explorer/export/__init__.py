"""From the decision to production: the chosen pipeline as a file a service can run."""
