timeline native.plw
