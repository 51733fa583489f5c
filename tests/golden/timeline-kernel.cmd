timeline kernel.plw
