timeline --json native.plw
