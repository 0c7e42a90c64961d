"""The feedback log: what was asked, what was shown, how members rated it."""
