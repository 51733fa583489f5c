graph basic.plw
