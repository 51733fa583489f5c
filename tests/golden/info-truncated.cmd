info truncated.plw
