flow --json kernel.plw
