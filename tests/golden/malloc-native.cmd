malloc native.plw
