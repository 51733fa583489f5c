malloc --json native.plw
