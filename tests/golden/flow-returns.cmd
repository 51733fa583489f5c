flow --all returns.plw
