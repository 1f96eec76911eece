import LKVMCore
