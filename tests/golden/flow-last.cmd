flow --last basic.plw
