syscalls --json kernel.plw
