flow --all native.plw
