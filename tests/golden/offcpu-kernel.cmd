offcpu kernel.plw
