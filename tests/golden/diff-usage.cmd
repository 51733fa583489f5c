diff basic.plw
