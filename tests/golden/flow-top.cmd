flow basic.plw
