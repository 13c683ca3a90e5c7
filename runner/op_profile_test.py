"""The profiler's trace, read and grouped."""

from absl.testing import parameterized
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from runner import op_profile


def _space(lines):
  """An XSpace of one plane: {line name: [(event name, start ms, length ms,
  {stat: string})]}; 'by_ref' stats are interned as the profiler does."""
  space = xplane_pb2.XSpace()
  plane = space.planes.add(name='/host:CPU')
  ids = {}

  def interned(name, table):
    if name not in ids:
      ids[name] = len(ids) + 1
      table[ids[name]].name = name
    return ids[name]
  for line_name, events in lines.items():
    line = plane.lines.add(name=line_name)
    for name, start, ms, stats in events:
      event = line.events.add(
          metadata_id=interned(name, plane.event_metadata),
          offset_ps=int(start * 1e9), duration_ps=int(ms * 1e9))
      for key, value in stats.items():
        stat = event.stats.add(
            metadata_id=interned(key, plane.stat_metadata))
        if key == 'name':  # Interned: a reference to the string.
          stat.ref_value = interned(value, plane.stat_metadata)
        else:
          stat.str_value = value
  return space


class GroupTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      ('gradient_tape/Conv2DBackpropFilter', '_MklNativeConv2DBackpropFilter',
       'convolutions backward'),
      ('Conv2DBackpropInput', '_MklNativeConv2DBackpropInput',
       'convolutions backward'),
      ('conv_gradient/Conv2D', '_MklNativeConv2D', 'convolutions backward'),
      ('Conv2D_1', '_MklNativeConv2D', 'convolutions forward'),
      ('Relu', '_MklNativeFusedConv2D', 'convolutions forward'),
      ('IteratorGetNext', 'IteratorGetNext', 'input'),
      ('gradient_tape/Cast_3/Cast', 'Cast', 'casts'),
      ('adam/SelectV2_2', 'SelectV2', 'optimizer'),
      ('PartitionedCall', 'XLA:a_inference___backward__votes_and_routing_6',
       'votes and routing'),
      ('adam/PartitionedCall_3', 'XLA:a_inference__adam_update_1571__.1',
       'optimizer'),
      ('PartitionedCall', 'XLA:a_inference_step_1', 'XLA, other'),
      ('capsule2/einsum/Einsum', '_MklEinsum', 'votes and routing'),
      ('gradient_tape/capsule2_1/transpose', '_MklTranspose',
       'votes and routing'),
      ('recons/recons_1/MatMul', '_MklMatMul', 'decoder'),
      ('gradient_tape/losses/Square', 'Square', 'losses'),
      ('my_capsule2/mul', 'Mul', 'other'),
      ('capsule2_x/mul', 'Mul', 'other'))
  def test_group_of(self, name, kind, group):
    self.assertEqual(op_profile.group_of(name, kind), group)

  def test_op_times_and_groups_from_a_trace(self):
    call = 'ExecutorState::ProcessAsync::Start'
    run = 'CpuExecutable::ExecuteAsyncOnStream'
    space = _space({
        'tf_Compute/1': [
            ('Conv2D_1:_MklNativeConv2D', 0, 2.0, {}),
            ('ExecutorState::Process', 0, 10.0, {}),
            ('adam/mul:Mul', 3, 0.5, {}),
            ('Conv2D_1:_MklNativeConv2D', 4, 4.0, {}),
            # The routing's gradient, compiled: called here, run on
            # another thread.
            (call, 10, 5.0, {'name': 'PartitionedCall'})],
        'tf_Compute/2': [
            (call, 20, 4.0, {'name': 'capsule2/PartitionedCall'}),
            (run, 21, 3.0, {}),
            (run, 11, 2.5, {}),
            (run, 30, 1.0, {}),  # Outside any call: 'xla'.
            ('ThreadpoolListener::Record', 12, 1.0, {})],
        'python': [('train_steps', 0, 20.0, {})],
        'tf_numa_-1_Eigen/3': [
            ('fusion.1', 22, 1.0, {'hlo_module': 'a_fwd__votes_and_routing'}),
            ('fusion', 12, 1.0, {'hlo_module': 'a_bwd__votes_and_routing'}),
            ('fusion.1', 40, 7.0, {'hlo_module': 'a_inference__adam_update'})
        ]})
    times = op_profile.op_times(space)
    self.assertEqual(dict(times), {
        ('Conv2D_1', '_MklNativeConv2D'): 6.0, ('adam/mul', 'Mul'): 0.5,
        ('capsule2/PartitionedCall', 'XLA:a_fwd__votes_and_routing'): 3.0,
        ('PartitionedCall', 'XLA:a_bwd__votes_and_routing'): 2.5,
        ('xla', 'XLA:'): 1.0})
    groups = op_profile.by_group(times, steps=2)
    self.assertEqual(list(groups), [g for g, _ in op_profile.GROUPS])
    self.assertEqual({k: v for k, v in groups.items() if v}, {
        'convolutions forward': 3.0, 'optimizer': 0.25,
        'votes and routing': 2.75, 'XLA, other': 0.5})

  def test_a_real_trace(self):
    x = tf.random.stateless_normal([4, 8, 8, 3], seed=[1, 2])
    kernel = tf.random.stateless_normal([3, 3, 3, 2], seed=[3, 4])

    @tf.function
    def step():
      with tf.name_scope('adam'):
        y = tf.nn.conv2d(x, kernel, 1, 'VALID')
        return tf.reduce_sum(tf.cast(y, tf.bfloat16) * 2)
    step()
    groups = op_profile.by_group(op_profile.profile(
        lambda: step().numpy(), 2, self.get_temp_dir()), 2)
    self.assertGreater(groups['convolutions forward'], 0.0)
    self.assertGreater(groups['casts'], 0.0)
    self.assertGreater(groups['optimizer'], 0.0)  # The multiplication.
    self.assertEqual(groups['convolutions backward'], 0.0)


if __name__ == '__main__':
  tf.test.main()
