"""Health scores per device and group: reachability, CPU/memory, interfaces, compliance and
backup freshness, each score saying what lowered it."""
