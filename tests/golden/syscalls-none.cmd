syscalls basic.plw
