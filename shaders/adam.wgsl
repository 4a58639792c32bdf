// adam.wgsl: one Adam step (model.md section 6) with the step-decay learning rate (the host
// writes the decayed lr and the bias corrections into `step`), followed by the projection on
// each parameter's sign constraint (Dale's law, no autapses).
// Reference: src/cpu/adam.rs (adam_step) and src/model/init.rs (apply_constraints).
// Host: src/gpu/engine.rs.
//
// One invocation per parameter e. Bindings: dims, step (uniform); grads (read);
// constraints (read); model (rw: the first P entries); moments (rw: m | v).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> step: StepUniform;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read> constraints: array<u32>;
@group(0) @binding(4) var<storage, read_write> model: array<f32>;
@group(0) @binding(5) var<storage, read_write> moments: array<f32>;

@compute @workgroup_size(WG_ELEMENTWISE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * WG_ELEMENTWISE;
    if (e >= dims.n_params) {
        return;
    }
    let g = grads[e];
    let m = step.beta1 * moments[e] + (1.0 - step.beta1) * g;
    let v = step.beta2 * moments[dims.n_params + e] + (1.0 - step.beta2) * g * g;
    moments[e] = m;
    moments[dims.n_params + e] = v;
    var w = model[e] - step.lr * (m / step.bias1) / (sqrt(v / step.bias2) + step.eps);
    switch constraints[e] {
        case 1u: { w = max(w, 0.0); }
        case 2u: { w = min(w, 0.0); }
        case 3u: { w = 0.0; }
        default: {}
    }
    model[e] = w;
}
