info noprocs.plw
