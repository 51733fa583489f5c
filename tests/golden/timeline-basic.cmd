timeline basic.plw
