timeline returns.plw
