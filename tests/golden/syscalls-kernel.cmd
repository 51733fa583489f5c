syscalls kernel.plw
