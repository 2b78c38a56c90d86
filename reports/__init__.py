"""reports: the KPIs and reports of service rules section 9 and the records of section 10.

``kpis`` computes the KPI set of a period and scope from the stored tickets, history and
stoppage anomalies (SQL in ``storage.reports``); ``render`` writes it as Markdown, CSV or
HTML with inline SVG ``charts``; ``periods`` reads ``2026-W48`` / ``2026-11`` / ``2026-Q4``;
``records`` serves a ticket's archive (every read logged) and retention with approved purges
(the hash chains are ``storage.audit``'s); ``policy`` holds targets and retention
(``policies/reports.toml``). Reads only through storage queries.
"""
