"""Timesheets: per employee and period, pre-filled, corrected, approved twice, submitted to 1C (pure).

| module | does |
|---|---|
| ``model.py`` | periods (week, half-month, month), days, a timesheet version, site settings |
| ``prefill.py`` | planned hours from 1C's GetWorkSchedule joined with Bitrix24 time tracking |
| ``lifecycle.py`` | the state machine; its records are processes/engine.py's hash-chained transitions |
| ``diff.py`` | the changed days of two versions, side by side (what a disputed sheet shows) |
| ``onec.py`` | approved sheets → ``SubmitTimesheet`` values (one per 1C document); 1C's conflicts back |
| ``billing.py`` | approved hours × rates, summaries per department and foreman, CSV and XLSX |
"""
