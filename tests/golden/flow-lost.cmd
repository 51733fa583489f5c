flow --all lost.plw
