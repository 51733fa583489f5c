offcpu --json kernel.plw
