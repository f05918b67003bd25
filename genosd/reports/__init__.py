"""Reports: inventory, health, capacity, compliance and changes as HTML (with charts), CSV and JSON."""
