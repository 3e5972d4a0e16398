"""HR processes: the catalog (catalog.yaml, catalog.py), validation before 1C, one state machine with a
hash-chained history (engine.py), form and 1C request mapping (forms.py), and the Bitrix24 workflow
templates built from the catalog (bpt.py, activities.py). Pure: the store side is store/process_repo.py.
See docs/processes.md."""
