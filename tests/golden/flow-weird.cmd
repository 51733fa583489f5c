flow weird.plw
