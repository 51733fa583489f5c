gil --json native.plw
