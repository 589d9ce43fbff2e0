"""The benchmark behind ``python -m explorer bench``: ``run`` (configuration, goals, the whole run), ``measure``
(each measurement), ``report`` (the records, the JSON report, the machine) and ``corpus`` (the real text)."""
