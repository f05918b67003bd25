"""SSH plumbing shared by collection and deploys: host keys, sessions."""
