flow nosuch.plw
