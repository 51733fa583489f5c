exceptions native.plw
