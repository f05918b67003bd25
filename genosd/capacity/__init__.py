"""Capacity: per-interface utilisation percentiles, trend and the day each link crosses a
threshold, from daily rollups read out of InfluxDB or the local metrics store."""
