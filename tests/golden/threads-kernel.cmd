threads kernel.plw
