// An interactive view of a face mesh (mesh.glb, its UV texture embedded):
// three.js with GLTFLoader and OrbitControls, rendered on demand (only when
// the camera moves or the canvas is resized).
import {
  WebGLRenderer, Scene, PerspectiveCamera, AmbientLight, DirectionalLight, Box3, Vector3, Color, SRGBColorSpace,
} from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

export class Viewer {
  constructor(canvas) {
    this.canvas = canvas;
    // preserveDrawingBuffer keeps the last frame readable (the browser test
    // checks the canvas has drawn pixels).
    this.renderer = new WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.outputColorSpace = SRGBColorSpace;
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new Scene();
    this.scene.background = new Color(0x20242d);
    this.scene.add(new AmbientLight(0xffffff, 1.6));
    const key = new DirectionalLight(0xffffff, 1.6);
    key.position.set(0.5, 0.6, 1);
    this.scene.add(key);
    this.camera = new PerspectiveCamera(30, 1, 0.001, 100);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.render = () => this.renderer.render(this.scene, this.camera);
    this.controls.addEventListener('change', this.render);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(canvas);
  }

  fit() {
    const w = this.canvas.clientWidth || 300;
    const h = this.canvas.clientHeight || 300;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  // load shows a GLB given as an ArrayBuffer, framed to fill the view.
  async load(buffer) {
    const gltf = await new GLTFLoader().parseAsync(buffer, '');
    const root = gltf.scene;
    this.scene.add(root);
    const box = new Box3().setFromObject(root);
    const size = box.getSize(new Vector3());
    const center = box.getCenter(new Vector3());
    const radius = Math.max(size.x, size.y, size.z) || 0.1;
    // glTF is y up with the face towards +z: look at it from the front.
    this.camera.position.set(center.x, center.y, center.z + radius * 2.4);
    this.camera.near = radius / 100;
    this.camera.far = radius * 100;
    this.controls.target.copy(center);
    this.controls.update();
    this.fit();
  }

  dispose() {
    this.resize.disconnect();
    this.controls.dispose();
    this.scene.traverse((o) => {
      o.geometry?.dispose();
      for (const m of [].concat(o.material || [])) {
        m.map?.dispose();
        m.dispose();
      }
    });
    this.renderer.dispose();
  }
}
