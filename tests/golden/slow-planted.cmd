slow ana-slow.plw
