//! Rendering Rust declarations as WGSL, so that every struct and constant the host shares
//! with the kernels is written once, in Rust, and the kernels' copies are generated
//! (`shader::prelude`). A struct declared with [`wgsl_struct!`] is both the `#[repr(C)]`
//! Pod type the host uploads and the WGSL `struct` the kernels read; a constant listed with
//! [`wgsl_consts!`] is both a Rust `pub const` and a WGSL `const`.
//!
//! It depends on nothing else in the crate and sits in the bottom layer (docs/architecture.md
//! "Layers"): the GPU engine's contract (`gpu::layout`) uses it, and so does the model, whose
//! parameter layout (`model::param_layout`) declares the neuron-constant blocks the kernels
//! index.

/// A Rust field type and its WGSL spelling. Only 4-byte scalars and `[u32; 4]` (WGSL
/// `vec4<u32>`, 16-byte aligned) are offered: with them a `#[repr(C)]` struct and its WGSL
/// twin have the same offsets as long as each vec4 starts at a multiple of 16 bytes, which
/// `tests/shaders_validate.rs` checks against naga's layouter.
pub trait WgslType {
    const WGSL: &'static str;
}

impl WgslType for u32 {
    const WGSL: &'static str = "u32";
}
impl WgslType for i32 {
    const WGSL: &'static str = "i32";
}
impl WgslType for f32 {
    const WGSL: &'static str = "f32";
}
impl WgslType for [u32; 4] {
    const WGSL: &'static str = "vec4<u32>";
}

/// One field of a shared struct: name, WGSL type, byte offset in the Rust struct, and its
/// doc comment (rendered as a WGSL comment).
#[derive(Clone, Copy, Debug)]
pub struct WgslField {
    pub name: &'static str,
    pub ty: &'static str,
    pub offset: usize,
    pub doc: &'static str,
}

/// A struct shared by the host and the kernels.
pub trait WgslStruct: bytemuck::Pod {
    const NAME: &'static str;
    const DOC: &'static str;
    fn fields() -> Vec<WgslField>;

    /// The WGSL declaration: the same fields, in the same order, with the Rust docs as
    /// comments.
    fn wgsl() -> String {
        let mut s = String::new();
        for line in Self::DOC.lines() {
            s += &format!("//{line}\n");
        }
        s += &format!("struct {} {{\n", Self::NAME);
        for f in Self::fields() {
            let decl = format!("    {}: {},", f.name, f.ty);
            if f.doc.is_empty() {
                s += &format!("{decl}\n");
            } else {
                let doc = f.doc.split_whitespace().collect::<Vec<_>>().join(" ");
                s += &format!("{decl:<28}//{doc}\n");
            }
        }
        s += "}\n";
        s
    }
}

/// Declares a `#[repr(C)]` Pod struct and implements [`WgslStruct`] for it from the same
/// field list. Field types must implement [`WgslType`].
macro_rules! wgsl_struct {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])* pub $field:ident : $ty:tt ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable, PartialEq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $crate::wgsl::WgslStruct for $name {
            const NAME: &'static str = stringify!($name);
            const DOC: &'static str = concat!($($sdoc, "\n"),*);
            fn fields() -> Vec<$crate::wgsl::WgslField> {
                vec![$(
                    $crate::wgsl::WgslField {
                        name: stringify!($field),
                        ty: <$ty as $crate::wgsl::WgslType>::WGSL,
                        offset: std::mem::offset_of!($name, $field),
                        doc: concat!($($fdoc, " "),*),
                    }
                ),*]
            }
        }
    };
}
// Named by path (`crate::wgsl::wgsl_struct`), like every other item of the crate.
pub(crate) use wgsl_struct;

/// Declares `pub const NAME: u32 = value;` for each entry and a list `$list` of
/// `(name, value)` pairs that `shader::prelude` renders as WGSL `const NAME: u32 = valueu;`.
macro_rules! wgsl_consts {
    (
        $(#[doc = $ldoc:literal])*
        $list:ident {
            $( $(#[doc = $cdoc:literal])* $name:ident = $value:expr; )*
        }
    ) => {
        $( $(#[doc = $cdoc])* pub const $name: u32 = $value; )*
        $(#[doc = $ldoc])*
        pub const $list: &[(&str, u32)] = &[$( (stringify!($name), $name) ),*];
    };
}
pub(crate) use wgsl_consts;

/// WGSL `const` declarations of `(name, value)` pairs.
pub fn render_consts(consts: &[(&str, u32)]) -> String {
    consts
        .iter()
        .map(|(name, value)| format!("const {name}: u32 = {value}u;\n"))
        .collect()
}
