info basic.plw
