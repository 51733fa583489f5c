flow noprocs.plw
