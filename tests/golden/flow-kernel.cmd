flow kernel.plw
