exceptions --json native.plw
