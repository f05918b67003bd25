"""Discovery: probe seeds and ranges, crawl LLDP/CDP neighbours, propose inventory changes."""
