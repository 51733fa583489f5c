gil native.plw
