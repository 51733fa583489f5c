flow --json nosuch.plw
