package io.resilientkvm.engine.instance;

/** The {@code qemu.accelerator} setting: {@code auto} uses KVM when {@code /dev/kvm} is usable, else TCG. */
public enum AcceleratorChoice {
    AUTO, KVM, TCG
}
