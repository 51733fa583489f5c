flow --all --json native.plw
